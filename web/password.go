package web

import (
	"golang.org/x/crypto/bcrypt"
)

const bcryptCost = 11

// HashPassword hashes a password with bcrypt.
func HashPassword(pw string) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcryptCost)
	return string(b), err
}

// dummyHash is compared against when the user does not exist, so that an unknown
// address takes as long to refuse as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("paymend-timing-equaliser"), bcryptCost)

// CheckPassword reports whether pw matches hash; with an empty hash it spends the
// same time and returns false.
func CheckPassword(hash, pw string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pw))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}
