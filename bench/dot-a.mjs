// The 4x8 portable dot with its A operand in the two forms Winograd's
// tiles-as-A products can take (docs/design.md, r50d): "shuf", one
// vector of four tiles per k step broadcast lane by lane with
// i8x16.shuffle (r50b's dotRowsA), and "exp", four pre-broadcast vectors
// per k step (the expanded V), A streaming through a region of 32 KiB to
// 4 MiB and B (32 bytes a step) in L1. Needs wat2wasm (wabt).
//
//   node dot-a.mjs [STEPS]       (k steps per call, default 512)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
const splat=[[0,1,2,3],[4,5,6,7],[8,9,10,11],[12,13,14,15]].map(l=>[...l,...l,...l,...l].join(" "));
function dot(name, shuffle, U=4){
  const L=[`(func $${name} (param $pa i32) (param $pb i32) (param $n i32) (param $pc i32)`];
  for(let i=0;i<8;i++)L.push(`(local $c${i} v128)`);
  L.push("(local $b0 v128) (local $b1 v128) (local $a v128) (local $row v128) (loop $l");
  for(let u=0;u<U;u++){
    L.push(`(local.set $b1 (v128.load offset=16 (local.get $pb)))`,`(local.set $b0 (v128.load (local.get $pb)))`);
    if(shuffle) L.push(`(local.set $row (v128.load offset=${u*64} (local.get $pa)))`);
    for(let r=3;r>=0;r--){
      if(shuffle) L.push(`(local.set $a (i8x16.shuffle ${splat[r]} (local.get $row) (local.get $row)))`);
      else L.push(`(local.set $a (v128.load offset=${u*64+16*r} (local.get $pa)))`);
      L.push(`(local.set $c${r*2+1} (f32x4.add (local.get $c${r*2+1}) (f32x4.mul (local.get $a) (local.get $b1))))`);
      L.push(`(local.set $c${r*2} (f32x4.add (local.get $c${r*2}) (f32x4.mul (local.get $a) (local.get $b0))))`);
    }
    L.push("(local.set $pb (i32.add (local.get $pb) (i32.const 32)))","(local.set $n (i32.sub (local.get $n) (i32.const 1)))");
    if(u<U-1)L.push("(if (local.get $n) (then");
  }
  L.push(`(local.set $pa (i32.add (local.get $pa) (i32.const ${U*64})))`,"(br_if $l (local.get $n))","))".repeat(U-1),")");
  for(let i=0;i<8;i++)L.push(`(v128.store offset=${16*i} (local.get $pc) (local.get $c${i}))`);
  return L.join("\n")+")";
}
// run: calls dot with A cycling through region [A0, A0+ra) step = steps*astride, B fixed
const run=(name)=>`(func (export "run_${name}") (param $calls i32) (param $steps i32) (param $ra i32) (local $off i32)
 (loop $l (call $${name} (i32.add (i32.const 1048576) (local.get $off)) (i32.const 65536) (local.get $steps) (i32.const 1024))
  (local.set $off (i32.add (local.get $off) (i32.mul (local.get $steps) (i32.const 64))))
  (if (i32.ge_u (local.get $off) (local.get $ra)) (then (local.set $off (i32.const 0))))
  (br_if $l (local.tee $calls (i32.sub (local.get $calls) (i32.const 1))))))`;
const wat=`(module (memory 256) ${dot("shuf",true)} ${dot("exp",false)} ${run("shuf")} ${run("exp")})`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlc-dot-a-"));
fs.writeFileSync(path.join(dir, "t.wat"), wat);
execFileSync("wat2wasm", [path.join(dir, "t.wat"), "-o", path.join(dir, "t.wasm")]);
const {instance}=await WebAssembly.instantiate(fs.readFileSync(path.join(dir, "t.wasm"))); const e=instance.exports;
const steps=+process.argv[2]||512;
const best=f=>{f();let b=1e9;for(let i=0;i<15;i++){const t=performance.now();f();b=Math.min(b,performance.now()-t);}return b/1e3;};
for(const ra of [32<<10, 256<<10, 1<<20, 2<<20, 4<<20]){
  const calls=Math.floor(4e8/(steps*64));
  for(const v of ["shuf","exp"]){
    const s=best(()=>e["run_"+v](calls,steps,ra));
    console.log(`${v} steps ${steps} A region ${ra>>10} KiB: ${(calls*steps*64/s/1e9).toFixed(1)} GFLOP/s`);
  }
}
