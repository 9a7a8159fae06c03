package main

import (
	_ "github.com/libp2p/go-libp2p"
	_ "github.com/libp2p/go-msgio"
	_ "github.com/sirupsen/logrus"
	_ "modernc.org/sqlite"
)

func main() {}
