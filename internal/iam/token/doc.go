// Package token mints and verifies Kumo's temporary credentials: the
// access key id (ASIA…), secret access key and session token that STS
// AssumeRole and GetSessionToken answer and that every sandbox receives
// for its function's execution role.
//
// Tokens are self-contained and stateless, so any node that holds the
// node key verifies them without a store read or a shared table:
//
//   - the session token is an AES-256-GCM sealed blob (version byte,
//     random nonce, ciphertext) holding the access key id, the identity
//     (account, principal ARN, user id, role ARN, session name) and the
//     issue and expiry times; a token that was changed, cut, or sealed
//     with another key does not open;
//   - the secret access key is never stored anywhere: it is
//     HMAC-SHA256(secret subkey, access key id), so the verifier
//     derives it again from the access key id the opened token names;
//   - the role's unique id (AROA…, the first half of an assumed role's
//     UserId) is HMAC-derived from the role ARN, so it is stable for a
//     role across nodes and restarts.
//
// The subkeys (sealing, secrets, role ids) are derived from one 32-byte
// node key, which the server keeps in its data dir (session-token.key,
// mode 0600). Every node of a cluster must be given the same key; a new
// key invalidates every outstanding token (the way to revoke them all).
// Tokens cannot be revoked one by one: they expire.
//
// Store joins the long-term root key with the issuer, as the edge's
// awsproto.IdentityStore. The package is pure apart from reading the
// clock and the random source; an Issuer is safe for concurrent use.
package token
