package app

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"

	"github.com/kumo-run/kumo/internal/config"
)

// Credentials are the root access key pair that signs requests.
type Credentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
}

// CredentialsFile is the file in the data dir holding generated root
// credentials, mode 0600.
const CredentialsFile = "root-credentials.json"

// LoadCredentials returns the root credentials: the ones the environment
// chose (config.Config.Root) when set, else the data dir's credentials file,
// generating it on first use. generated reports whether this call created
// the file.
func LoadCredentials(dataDir string, fixed config.RootCredentials) (c Credentials, generated bool, err error) {
	if fixed.AccessKeyID != "" {
		return Credentials{AccessKeyID: fixed.AccessKeyID, SecretAccessKey: fixed.SecretAccessKey}, false, nil
	}
	c, err = ReadCredentials(dataDir)
	if !errors.Is(err, fs.ErrNotExist) {
		return c, false, err
	}
	b := newCredentials()
	if err := writeFileAtomic(filepath.Join(dataDir, CredentialsFile), b, 0o600); err != nil {
		return c, false, err
	}
	c, err = parseCredentials(b)
	return c, err == nil, err
}

// newCredentials generates a root key pair in the form of the
// credentials file.
func newCredentials() []byte {
	c := Credentials{AccessKeyID: "AKIA" + randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		SecretAccessKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
	b, _ := json.MarshalIndent(c, "", "  ")
	return append(b, '\n')
}

// parseCredentials reads the content of a credentials file.
func parseCredentials(b []byte) (Credentials, error) {
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return Credentials{}, errors.New("not a valid credentials file")
	}
	return c, nil
}

// ReadCredentials reads the data dir's credentials file; the error wraps
// fs.ErrNotExist when there is none.
func ReadCredentials(dataDir string) (Credentials, error) {
	path := filepath.Join(dataDir, CredentialsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, err
	}
	c, err := parseCredentials(b)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s is not a valid credentials file; remove it to generate new credentials", path)
	}
	return c, nil
}

// loadKey returns a 32-byte secret kept in the data dir, creating it once.
func loadKey(dataDir, name string) ([]byte, error) {
	path := filepath.Join(dataDir, name)
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	rand.Read(b)
	return b, writeFileAtomic(path, b, 0o600)
}

func randomString(n int, alphabet string) string {
	out := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range out {
		k, _ := rand.Int(rand.Reader, max)
		out[i] = alphabet[k.Int64()]
	}
	return string(out)
}

// writeFileAtomic writes a file durably: temp file, fsync, rename, fsync
// of the directory.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
