//go:build (consumer || provider) && race

package contracts

const raceEnabled = true
