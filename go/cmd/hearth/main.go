package main

import (
	_ "github.com/matrix-org/gomatrixserverlib"
	_ "github.com/sirupsen/logrus"
	_ "golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite"
)

func main() {}
