package host

import "testing"

func TestValid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		host string
		want bool
	}{
		{host: "", want: true},
		{host: "api.example.com", want: true},
		{host: "API.Example.com:8443", want: true},
		{host: "[::1]:80", want: true},
		{host: "[2001:db8::1]", want: true},
		{host: "a_b~c!$&'()*+,;=", want: true},
		{host: "%C3%A9.example", want: true},
		{host: "%c3%a9.example:443", want: true},
		{host: "a%25b", want: true},
		{host: "user@a", want: false},
		{host: "a b", want: false},
		{host: "a/b", want: false},
		{host: "a:80x", want: false},
		{host: "a:123456", want: false},
		{host: "[::1", want: false},
		{host: "[]", want: false},
		{host: "[::g]", want: false},
		{host: "ex%61mple.com", want: false},
		{host: "%00", want: false},
		{host: "%2F", want: false},
		{host: "a%7e", want: false},
		{host: "%8", want: false},
		{host: "a%", want: false},
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			if got := Valid(tc.host); got != tc.want {
				t.Errorf("Valid(%q) = %v, want %v", tc.host, got, tc.want)
			}
			if got := Valid([]byte(tc.host)); got != tc.want {
				t.Errorf("Valid([]byte(%q)) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}
