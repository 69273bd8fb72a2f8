package classboard

import "testing"

// One-line texts others see (names, device labels, titles, pupils' names
// and answers) refuse control characters and bidi controls.
func TestValidLine(t *testing.T) {
	for s, want := range map[string]bool{
		"Ada Lovelace": true, "Zoë Ørsted": true, "مريم": true, "": true,
		"Ada\x00": false, "\x1b[31mred": false, "tab\there": false, "C1 \u009b": false,
		"evil\u202egnp.exe": false, "iso\u2066late": false, "mark\u200f": false, "\xff": false,
	} {
		if got := ValidLine(s); got != want {
			t.Errorf("ValidLine(%q) = %v, want %v", s, got, want)
		}
	}
	j := JoinRequest{Code: "123456", Name: "Bob\u202e"}
	if err := j.Validate(); ErrorCode(err) != EINVALID {
		t.Errorf("a pupil name with a bidi override: %v", err)
	}
}
