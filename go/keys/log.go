package keys

import "github.com/sirupsen/logrus"

var log = logrus.WithField("component", "keys")
