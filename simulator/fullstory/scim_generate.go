package fullstory

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// MaxGeneratedTeammates bounds WithTeammates and the seed admin route.
const MaxGeneratedTeammates = 1_000_000

var teammateDomains = []string{"acme.example", "globex.example", "initech.example"}

// generateTeammates returns n teammates derived from seed alone, ids left
// empty for the store to assign. Teammate i of a seed is always the same
// (userName included), so seeding twice replaces instead of duplicating.
// The shapes cycle every eight teammates, so any eight in a row hold all:
//
//	i%8 == 0, 1  displayName, name, one primary work email
//	i%8 == 2     three emails, the primary one second
//	i%8 == 3     inactive
//	i%8 == 4     no emails (the userName is the address)
//	i%8 == 5     no displayName (name only), one email without primary
//	i%8 == 6     mixed-case userName (userName is case-insensitive)
//	i%8 == 7     no displayName and no name (userName only)
//
// and every third teammate (i%3 == 0) has an Okta-style externalId.
func generateTeammates(seed int64, n int) []*Teammate {
	out := make([]*Teammate, n)
	for i := range n {
		out[i] = generateTeammate(seed, i)
	}
	return out
}

func generateTeammate(seed int64, i int) *Teammate {
	r := rand.New(rand.NewPCG(uint64(seed)^0x7ea3a7e5, uint64(i)))
	first, last := pick(r, firstNames), pick(r, lastNames)
	domain := pick(r, teammateDomains)
	local := fmt.Sprintf("%s.%s.%d", strings.ToLower(first), strings.ToLower(last), i)
	email := local + "@" + domain
	full := first + " " + last
	// Created times step two hours per teammate from 2023-01-01 (the
	// step stops after 8000 teammates, so all stay before 2025), plus up
	// to two hours; last modified up to 90 days later.
	created := epoch.Add(time.Duration(min(i, 8000))*2*time.Hour + time.Duration(r.IntN(120))*time.Minute)
	modified := created.Add(time.Duration(r.IntN(90*24)) * time.Hour)
	t := &Teammate{
		UserName:    email,
		Name:        &TeammateName{GivenName: first, FamilyName: last, Formatted: full},
		DisplayName: full,
		Emails:      []TeammateEmail{{Value: email, Type: "work", Primary: true}},
		Active:      true,
		Meta:        TeammateMeta{Created: created, LastModified: modified},
	}
	if i%3 == 0 {
		t.ExternalID = fmt.Sprintf("00u%016x", splitmix64(uint64(seed)*0x9e3779b97f4a7c15^uint64(i)^0xe7))
	}
	switch i % 8 {
	case 2:
		t.Emails = []TeammateEmail{
			{Value: local + "@home.example", Type: "home"},
			{Value: email, Type: "work", Primary: true},
			{Value: strings.ToLower(first) + "." + fmt.Sprint(i) + "@alias." + domain, Type: "other"},
		}
	case 3:
		t.Active = false
	case 4:
		t.Emails = nil
	case 5:
		t.DisplayName = ""
		t.Emails = []TeammateEmail{{Value: email, Type: "work"}}
	case 6:
		t.UserName = fmt.Sprintf("%s.%s.%d@%s", first, last, i, strings.ToUpper(domain[:1])+domain[1:])
	case 7:
		t.DisplayName = ""
		t.Name = nil
	}
	return t
}
