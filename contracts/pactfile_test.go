package contracts

import (
	"encoding/json"
	"fmt"
	"os"
)

// pactFile is the part of a Pact V4 file the tests read.
type pactFile struct {
	Consumer     struct{ Name string } `json:"consumer"`
	Provider     struct{ Name string } `json:"provider"`
	Interactions []pactInteraction     `json:"interactions"`
}

type pactInteraction struct {
	Description    string `json:"description"`
	ProviderStates []struct {
		Name   string         `json:"name"`
		Params map[string]any `json:"params"`
	} `json:"providerStates"`
	Request struct {
		Method string              `json:"method"`
		Path   string              `json:"path"`
		Query  map[string][]string `json:"query"`
	} `json:"request"`
}

func readPactFile(path string) (*pactFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f pactFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Interactions) == 0 {
		return nil, fmt.Errorf("%s has no interactions", path)
	}
	return &f, nil
}
