package limits

import "errors"

var errNegative = errors.New("must not be negative")
