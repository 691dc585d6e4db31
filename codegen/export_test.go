package codegen

// SetDepthwiseBordered makes every depthwise Conv use the bordered copy
// (true) or read its source in place where it may (false).
func SetDepthwiseBordered(b bool) { depthwiseBordered = b }
