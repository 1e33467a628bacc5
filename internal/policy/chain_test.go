package policy

import (
	"slices"
	"testing"
)

type step struct {
	name   string
	answer *Answer
	ran    *[]string
}

func (s step) Name() string { return s.name }
func (s step) Apply(r *Request) *Answer {
	*s.ran = append(*s.ran, s.name)
	return s.answer
}

func TestChainOrderAndEarlyAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		steps   func(ran *[]string) []Step
		wantRan []string
		wantAns int
	}{
		{
			name: "fixed order whatever the input order",
			steps: func(ran *[]string) []Step {
				return []Step{
					{Order: OrderAuthz, Policy: step{name: "authz", ran: ran}},
					{Order: OrderLimits, Policy: step{name: "limits", ran: ran}},
					{Order: OrderAuth, Policy: step{name: "auth", ran: ran}},
					{Order: OrderCORS, Policy: step{name: "cors", ran: ran}},
				}
			},
			wantRan: []string{"limits", "cors", "auth", "authz"},
		},
		{
			name: "an answer stops the chain",
			steps: func(ran *[]string) []Step {
				return []Step{
					{Order: OrderAuthz, Policy: step{name: "authz", ran: ran}},
					{Order: OrderAuth, Policy: step{name: "auth", ran: ran, answer: &Answer{Status: 401}}},
					{Order: OrderIPFilter, Policy: step{name: "ipfilter", ran: ran}},
				}
			},
			wantRan: []string{"ipfilter", "auth"},
			wantAns: 401,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ran []string
			c := NewChain(tc.steps(&ran))
			a := c.Apply(&Request{})
			if !slices.Equal(ran, tc.wantRan) {
				t.Fatalf("ran %v, want %v", ran, tc.wantRan)
			}
			if got := 0; a != nil {
				got = a.Status
				if got != tc.wantAns {
					t.Fatalf("answer = %d, want %d", got, tc.wantAns)
				}
			} else if tc.wantAns != 0 {
				t.Fatalf("answer = nil, want %d", tc.wantAns)
			}
			if !slices.Equal(c.Names(), tc.wantRan) && tc.wantAns == 0 {
				t.Fatalf("Names() = %v, want %v", c.Names(), tc.wantRan)
			}
		})
	}
}

func TestOnDoneRunsInReverse(t *testing.T) {
	t.Parallel()
	var got []int
	r := &Request{}
	r.OnDone(func(status int) { got = append(got, 1) })
	r.OnDone(func(status int) { got = append(got, 2) })
	r.Done(200)
	r.Done(200) // a second Done runs nothing
	if !slices.Equal(got, []int{2, 1}) {
		t.Fatalf("OnDone order = %v, want [2 1]", got)
	}
}
