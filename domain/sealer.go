package domain

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// DataKeySize is the length of the AES-256 key that seals customer contact data.
const DataKeySize = 32

// ErrSealedCorrupt means a sealed value could not be opened: it was altered,
// truncated, or sealed under another key.
var ErrSealedCorrupt = errors.New("sealer: sealed value corrupt or sealed with another key")

// Sealer encrypts short secrets (customer phone and e-mail) with AES-256-GCM.
// It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != DataKeySize {
		return nil, fmt.Errorf("sealer: key must be %d bytes, got %d", DataKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// ParseDataKey decodes PAYMEND_DATA_KEY: 64 hexadecimal characters.
func ParseDataKey(hex64 string) ([]byte, error) {
	s := strings.TrimSpace(hex64)
	if len(s) != 2*DataKeySize {
		return nil, fmt.Errorf("sealer: data key must be %d hex characters, got %d", 2*DataKeySize, len(s))
	}
	key, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("sealer: data key is not hexadecimal")
	}
	return key, nil
}

// Seal encrypts plain and returns base64(nonce || ciphertext || tag). Every call
// uses a fresh random nonce, so equal inputs give different outputs. The empty
// string seals to the empty string, so "no phone" stays visible as such.
func (s *Sealer) Seal(plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	ns := s.aead.NonceSize()
	buf := make([]byte, ns, ns+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("sealer: nonce: %w", err)
	}
	buf = s.aead.Seal(buf, buf[:ns], []byte(plain), nil)
	return base64.StdEncoding.EncodeToString(buf), nil
}

// Open reverses Seal. It returns ErrSealedCorrupt when sealed was altered or
// sealed under another key; the empty string opens to the empty string.
func (s *Sealer) Open(sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", ErrSealedCorrupt
	}
	ns := s.aead.NonceSize()
	if len(raw) < ns+s.aead.Overhead() {
		return "", ErrSealedCorrupt
	}
	plain, err := s.aead.Open(nil, raw[:ns], raw[ns:], nil)
	if err != nil {
		return "", ErrSealedCorrupt
	}
	return string(plain), nil
}
