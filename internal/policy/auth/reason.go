package auth

// Method is an authentication method, for metrics.
type Method uint8

// Methods, in the order Apply tries them.
const (
	MethodNone Method = iota
	MethodMTLS
	MethodAPIKey
	MethodBasic
	MethodJWT
)

var methodNames = [...]string{"none", "mtls", "api_key", "basic", "jwt"}

// String returns the method's config name ("api_key", "jwt", ...).
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return "unknown"
}

// Reason is why authentication failed (ReasonNone: it succeeded). The set is small
// and stable so it can be a metric label.
type Reason uint8

// Reasons.
const (
	ReasonNone            Reason = iota // authenticated
	ReasonMissing                       // no credential for any configured method
	ReasonMalformed                     // credential could not be parsed
	ReasonExpired                       // JWT exp passed
	ReasonNotYetValid                   // JWT nbf or iat in the future
	ReasonIssuer                        // JWT iss not accepted
	ReasonAudience                      // JWT aud not accepted
	ReasonClaims                        // a required JWT claim is missing or invalid
	ReasonSignature                     // JWT signature does not verify
	ReasonAlgorithm                     // JWT alg not allowed (incl. "none") or not fitting the key
	ReasonUnknownKey                    // no key for the JWT's kid
	ReasonInvalidKey                    // API key unknown
	ReasonBadPassword                   // Basic user unknown or password wrong
	ReasonCertificate                   // client certificate does not verify
	ReasonUnknownConsumer               // credential valid but maps to no consumer
)

var reasonInfo = [...]struct{ name, detail string }{
	ReasonNone:            {"none", ""},
	ReasonMissing:         {"missing", "credentials missing"},
	ReasonMalformed:       {"malformed", "malformed credentials"},
	ReasonExpired:         {"expired", "token expired"},
	ReasonNotYetValid:     {"not_yet_valid", "token not valid yet"},
	ReasonIssuer:          {"issuer", "token issuer not accepted"},
	ReasonAudience:        {"audience", "token audience not accepted"},
	ReasonClaims:          {"claims", "token claims invalid"},
	ReasonSignature:       {"signature", "token signature invalid"},
	ReasonAlgorithm:       {"algorithm", "token algorithm not accepted"},
	ReasonUnknownKey:      {"unknown_key", "token signing key unknown"},
	ReasonInvalidKey:      {"invalid_api_key", "invalid API key"},
	ReasonBadPassword:     {"bad_password", "invalid username or password"},
	ReasonCertificate:     {"certificate", "client certificate not accepted"},
	ReasonUnknownConsumer: {"unknown_consumer", "credentials do not map to a consumer"},
}

// String returns the snake_case metric label ("expired", "bad_password", ...).
func (r Reason) String() string {
	if int(r) < len(reasonInfo) {
		return reasonInfo[r].name
	}
	return "unknown"
}

// Detail is the client-safe text sent in the problem detail.
func (r Reason) Detail() string {
	if int(r) < len(reasonInfo) {
		return reasonInfo[r].detail
	}
	return "authentication failed"
}

const numReasons = len(reasonInfo)
