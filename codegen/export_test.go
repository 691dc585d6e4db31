package codegen

// SetDepthwiseBordered makes every depthwise Conv use the bordered copy
// (true) or read its source in place where it may (false).
func SetDepthwiseBordered(b bool) { depthwiseBordered = b }

// SetSrcBandsOff makes every convolution unfold the whole image's col
// from a padded copy (true), as before the source bands, or take the
// source bands where they apply (false). Set it before planning: the
// workspace follows it.
func SetSrcBandsOff(b bool) { srcBandsOff = b }

// SetGatherCopy makes convolutions without padding gather from a copy of
// their input (true), as before, or from the input in place (false). Set
// it before planning: the workspace follows it.
func SetGatherCopy(b bool) { gatherCopy = b }
