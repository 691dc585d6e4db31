package tune

import "testing"

func TestNames(t *testing.T) {
	names := Names()
	if names[0] != Default || !IsPortable(Default) || !IsPortable("") {
		t.Errorf("Names() = %q: the default, portable, comes first", names)
	}
	for _, n := range names {
		if !Valid(n) {
			t.Errorf("%q is listed but not Valid", n)
		}
	}
	for _, n := range []string{"", "V8", "spidermonkey"} {
		if Valid(n) {
			t.Errorf("Valid(%q)", n)
		}
	}
}
