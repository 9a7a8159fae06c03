// Package relay is Hearth's relay in Go: go-libp2p's circuit relay v2 for
// the data path, with Hearth's extras served beside it on the same host:
// presence (presence/), mail for peers that are away (mailbox/) and finding
// peers across linked relays (routing/). It speaks the same wire as the
// JavaScript relay (js/relay), so peers cannot tell them apart; it exists
// because relaying in Go costs what go-libp2p's relay costs (issue 17).
//
// Its own module: Hearth's homeserver (module hearth, built to wasm) never
// imports go-libp2p.
package relay
