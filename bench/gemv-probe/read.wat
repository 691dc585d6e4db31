(module
  (memory (export "mem") 2048) ;; 128 MiB
  ;; sum S interleaved streams: region [base, base+W) split into S chunks of W/S bytes;
  ;; each step reads 32 bytes from each stream.
  (func (export "streams") (param $base i32) (param $W i32) (param $S i32) (result f32)
    (local $chunk i32) (local $off i32) (local $s i32) (local $p i32)
    (local $a v128) (local $b v128)
    (local.set $chunk (i32.div_u (local.get $W) (local.get $S)))
    (block $done
    (loop $k
      (br_if $done (i32.ge_u (local.get $off) (local.get $chunk)))
      (local.set $p (i32.add (local.get $base) (local.get $off)))
      (local.set $s (local.get $S))
      (loop $st
        (local.set $a (f32x4.add (local.get $a) (v128.load offset=0 (local.get $p))))
        (local.set $b (f32x4.add (local.get $b) (v128.load offset=16 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (local.get $chunk)))
        (br_if $st (local.tee $s (i32.sub (local.get $s) (i32.const 1)))))
      (local.set $off (i32.add (local.get $off) (i32.const 32)))
      (br $k)))
    (f32x4.extract_lane 0 (f32x4.add (local.get $a) (local.get $b))))
  ;; fixed 1 stream, unrolled 128 bytes/iter
  (func (export "seq") (param $p i32) (param $W i32) (result f32)
    (local $end i32) (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local.set $end (i32.add (local.get $p) (local.get $W)))
    (loop $l
      (local.set $a (f32x4.add (local.get $a) (v128.load offset=0 (local.get $p))))
      (local.set $b (f32x4.add (local.get $b) (v128.load offset=16 (local.get $p))))
      (local.set $c (f32x4.add (local.get $c) (v128.load offset=32 (local.get $p))))
      (local.set $d (f32x4.add (local.get $d) (v128.load offset=48 (local.get $p))))
      (local.set $a (f32x4.add (local.get $a) (v128.load offset=64 (local.get $p))))
      (local.set $b (f32x4.add (local.get $b) (v128.load offset=80 (local.get $p))))
      (local.set $c (f32x4.add (local.get $c) (v128.load offset=96 (local.get $p))))
      (local.set $d (f32x4.add (local.get $d) (v128.load offset=112 (local.get $p))))
      (br_if $l (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 128))) (local.get $end))))
    (f32x4.extract_lane 0 (f32x4.add (f32x4.add (local.get $a) (local.get $b)) (f32x4.add (local.get $c) (local.get $d)))))
  ;; evict: write (dirty) or read a region
  (func (export "dirty") (param $p i32) (param $W i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $p) (local.get $W)))
    (loop $l
      (v128.store (local.get $p) (v128.const i32x4 1 2 3 4))
      (v128.store offset=16 (local.get $p) (v128.const i32x4 1 2 3 4))
      (v128.store offset=32 (local.get $p) (v128.const i32x4 1 2 3 4))
      (v128.store offset=48 (local.get $p) (v128.const i32x4 1 2 3 4))
      (br_if $l (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 64))) (local.get $end)))))
)
