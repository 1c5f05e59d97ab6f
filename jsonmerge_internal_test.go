package concord

import "testing"

func TestNumbersCompareByValue(t *testing.T) {
	if !sameJSON([]byte(`{"n":1.0,"m":[2e0]}`), []byte(`{"n":1,"m":[2]}`)) {
		t.Error(`{"n":1.0} and {"n":1} compare unequal`)
	}
}
