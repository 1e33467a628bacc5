#!/bin/sh
# mint-jwt.sh SUBJECT "SCOPES" [EMAIL] — prints an HS256 JWT for this example, signed
# with $JWT_SECRET, valid for one hour. Needs only openssl. For trying the example
# locally; real deployments get tokens from their identity provider.
set -eu
sub=${1:?subject}
scope=${2:-}
email=${3:-}
: "${JWT_SECRET:?set JWT_SECRET}"
b64() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64)
payload=$(printf '{"iss":"https://idp.example.com","aud":"orders-api","sub":"%s","scope":"%s","email":"%s","iat":%d,"exp":%d}' \
  "$sub" "$scope" "$email" "$now" "$((now + 3600))" | b64)
sig=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -hmac "$JWT_SECRET" -binary | b64)
printf '%s.%s.%s\n' "$header" "$payload" "$sig"
