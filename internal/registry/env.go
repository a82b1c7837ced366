package registry

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// EnvKeys encrypts functions' environment variables at rest: the KMS
// engine, in-process. Seal and Open may create keys and write the KMS
// bucket; Usable answers from memory and runs on the invoke path.
type EnvKeys interface {
	// Seal encrypts plaintext with the key keyARN names, or with the
	// account's AWS managed key for Lambda (alias/aws/lambda, created on
	// first use) when keyARN is "", bound to the encryption context ec.
	// It returns the blob and the ARN of the key used.
	Seal(ctx context.Context, keyARN string, plaintext []byte, ec map[string]string) (blob []byte, key string, err error)
	// Open decrypts a blob Seal made, with the same context.
	Open(ctx context.Context, blob []byte, ec map[string]string) ([]byte, error)
	// Usable returns the error decrypting with keyARN would meet now (a
	// disabled key, one pending deletion, one gone), nil if none.
	Usable(keyARN string) error
}

// SealedEnv is a version's environment variables as stored: their JSON
// encrypted with a KMS key. The function and version documents hold this
// and never the variables themselves (when the Registry has EnvKeys).
type SealedEnv struct {
	// Key is the ARN of the key the blob is encrypted with.
	Key  string `json:"key"`
	Blob []byte `json:"blob"`
}

// envContext is the encryption context of a function's variables.
func envContext(function string) map[string]string {
	return map[string]string{"LambdaFunctionName": function}
}

// seal returns v as it is stored: with EnvKeys, its variables encrypted
// into Env and Config.Environment left out. Variables that could not be
// decrypted when v was read (envErr) keep their blob as it was.
func (r *Registry) seal(ctx context.Context, v Version) (Version, error) {
	keys := r.cfg.EnvKeys
	if keys == nil {
		return v, nil
	}
	c := v.Config
	switch {
	case c.Environment != nil && c.Environment.Error != nil:
		// The variables could not be decrypted when the document was
		// read (a disabled key) and were not replaced: keep the blob.
		v.Config.Environment = nil
		return v, nil
	case c.Environment == nil || len(c.Environment.Variables) == 0:
		v.Env = nil
		v.Config.Environment = nil
		return v, nil
	}
	plain, err := json.Marshal(c.Environment.Variables)
	if err != nil {
		return v, awsproto.Internal(err)
	}
	blob, key, err := keys.Seal(ctx, c.KMSKeyArn, plain, envContext(c.FunctionName))
	if err != nil {
		return v, kmsError(err, "encrypt")
	}
	v.Env = &SealedEnv{Key: key, Blob: blob}
	v.Config.Environment = nil
	return v, nil
}

// readEnv decrypts the variables of a version just read from the store
// and marks a document that held them in plain text.
func (r *Registry) readEnv(v *Version) {
	v.plain = r.cfg.EnvKeys != nil && v.Env == nil && v.Config.Environment != nil
	r.open(v)
}

func storeEntry(key string, value []byte, rev uint64) store.Entry {
	return store.Entry{Key: key, Value: value, Revision: rev}
}

// open fills a version read from the store with its variables: a
// decryption that fails leaves them out, records why in envErr (the
// invoke path refuses the version with it) and reports it in
// Environment.Error, as GetFunctionConfiguration does.
func (r *Registry) open(v *Version) {
	v.envErr = nil
	if v.Env == nil || r.cfg.EnvKeys == nil {
		return
	}
	plain, err := r.cfg.EnvKeys.Open(context.Background(), v.Env.Blob, envContext(v.Config.FunctionName))
	if err == nil {
		var vars map[string]string
		if err = json.Unmarshal(plain, &vars); err == nil {
			v.Config.Environment = &Environment{Variables: vars}
			return
		}
	}
	v.envErr = kmsError(err, "decrypt")
	ae := awsproto.AsError(v.envErr)
	v.Config.Environment = &Environment{Error: &EnvironmentError{ErrorCode: ae.Code.Name(), Message: ae.Message}}
}

// envError is what an invocation of v meets: its variables could not be
// decrypted, or their key cannot decrypt now.
func (r *Registry) envError(v *Version) error {
	if v.envErr != nil {
		return v.envErr
	}
	if v.Env == nil || r.cfg.EnvKeys == nil {
		return nil
	}
	if err := r.cfg.EnvKeys.Usable(v.Env.Key); err != nil {
		return kmsError(err, "decrypt")
	}
	return nil
}

// kmsError turns a KMS engine error into the Lambda error AWS answers
// with: KMSDisabledException, KMSInvalidStateException,
// KMSNotFoundException or KMSAccessDeniedException (502).
func kmsError(err error, verb string) error {
	var ae *awsproto.Error
	if !errors.As(err, &ae) {
		return awsproto.Internal(err)
	}
	detail := " KMS Exception: " + ae.Code.Name() + " KMS Message: " + ae.Message
	switch ae.Code {
	case awsproto.KMSDisabled:
		return awsproto.Errorf(awsproto.KMSDisabledException, "Lambda was unable to %s the environment variables because the KMS key used is disabled. Please check the function's KMS key settings.%s", verb, detail)
	case awsproto.KMSInvalidState, awsproto.KMSKeyUnavailable:
		return awsproto.Errorf(awsproto.KMSInvalidStateException, "Lambda was unable to %s the environment variables because the KMS key used is in an invalid state for %s. Please check the function's KMS key settings.%s", verb, capital(verb), detail)
	case awsproto.KMSNotFound:
		return awsproto.Errorf(awsproto.KMSNotFoundException, "Lambda was unable to %s the environment variables because the KMS key was not found. Please check the function's KMS key settings.%s", verb, detail)
	case awsproto.KMSAccessDenied, awsproto.KMSInvalidCiphertext, awsproto.KMSInvalidKeyUsage, awsproto.KMSIncorrectKey:
		return awsproto.Errorf(awsproto.KMSAccessDeniedException, "Lambda was unable to %s the environment variables because KMS access was denied. Please check the function's KMS key settings.%s", verb, detail)
	}
	return ae
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// migrateEnv encrypts the variables of documents written before the
// registry had EnvKeys: the function documents through update, the
// published versions with compare-and-set on their revision. A failure
// is logged and tried again at the next start.
func (r *Registry) migrateEnv(ctx context.Context) {
	if r.cfg.EnvKeys == nil {
		return
	}
	type ver struct {
		name string
		n    int
		rev  uint64
	}
	var fns []string
	var vers []ver
	r.mu.RLock()
	for name, st := range r.fns {
		if st.rev != 0 && st.fn.Latest.plain {
			fns = append(fns, name)
		}
		for n, v := range st.versions {
			if v.plain {
				vers = append(vers, ver{name, n, r.revs[verKey(name, n)]})
			}
		}
	}
	r.mu.RUnlock()
	for _, name := range fns {
		if _, err := r.update(ctx, name, func(*Function) error { return nil }); err != nil {
			r.log.Warn("registry: encrypting a function's environment variables", "function", name, "err", err)
		}
	}
	for _, v := range vers {
		r.mu.RLock()
		st := r.fns[v.name]
		var cur *Version
		if st != nil {
			cur = st.versions[v.n]
		}
		r.mu.RUnlock()
		if cur == nil {
			continue
		}
		sv, err := r.seal(ctx, *cur)
		if err == nil {
			sv.syncLayers()
			var b []byte
			if b, err = json.Marshal(sv); err == nil {
				var rev uint64
				if rev, err = r.kv.Update(ctx, verKey(v.name, v.n), b, v.rev); err == nil {
					r.apply(storeEntry(verKey(v.name, v.n), b, rev))
				}
			}
		}
		if err != nil {
			r.log.Warn("registry: encrypting a version's environment variables", "function", v.name, "version", v.n, "err", err)
		}
	}
	if n := len(fns) + len(vers); n > 0 {
		r.log.Info("registry: environment variables stored in plain text were encrypted", "documents", n)
	}
}
