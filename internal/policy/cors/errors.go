package cors

import "errors"

var errStarWithCredentials = errors.New("origin \"*\" cannot be combined with credentials")
