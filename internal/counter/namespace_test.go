package counter

import "testing"

func TestListOptionsChecked(t *testing.T) {
	for _, tc := range []struct {
		in      ListOptions
		want    ListOptions
		wantErr string
	}{
		{ListOptions{}, ListOptions{Sort: SortByName, Limit: DefaultNamespacePage}, ""},
		{ListOptions{Sort: SortByValue, Limit: 1, Offset: 7}, ListOptions{Sort: SortByValue, Limit: 1, Offset: 7}, ""},
		{ListOptions{Limit: MaxNamespacePage}, ListOptions{Sort: SortByName, Limit: MaxNamespacePage}, ""},
		{ListOptions{Sort: "Value"}, ListOptions{}, `sort must be "name" or "value"`},
		{ListOptions{Limit: MaxNamespacePage + 1}, ListOptions{}, "limit must be between 1 and 1000"},
		{ListOptions{Limit: -1}, ListOptions{}, "limit must be between 1 and 1000"},
		{ListOptions{Offset: -1}, ListOptions{}, "offset must be 0 or more"},
	} {
		got, err := tc.in.checked()
		if tc.wantErr != "" {
			if ErrorCode(err) != EINVALID || ErrorMessage(err) != tc.wantErr {
				t.Errorf("%+v: error %v, want %s %q", tc.in, err, EINVALID, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestNamespaceLimit(t *testing.T) {
	for _, tc := range []struct{ counters, want int64 }{
		{0, 0}, {1, 1}, {10, 1}, {11, 2}, {100_000, 10_000},
	} {
		if got := NamespaceLimit(tc.counters); got != tc.want {
			t.Errorf("NamespaceLimit(%d) = %d, want %d", tc.counters, got, tc.want)
		}
	}
}

func TestParseNamespace(t *testing.T) {
	for _, tc := range []struct {
		in, wantCode string
	}{
		{"my-site", ""}, {"a.b", ""}, {"ab", EINVALID}, {"a/bc", EINVALID}, {"", EINVALID},
		{string(make([]byte, 65)), EINVALID},
	} {
		_, err := ParseNamespace(tc.in)
		if got := ErrorCode(err); got != tc.wantCode {
			t.Errorf("ParseNamespace(%q): code %q, want %q", tc.in, got, tc.wantCode)
		}
	}
}
