package fullstory

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

var (
	firstNames = []string{"Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace", "Hedy", "Ivan",
		"Jean", "Ken", "Katherine", "Linus", "Margaret", "Niklaus", "Olga", "Radia", "Shafi", "Tim",
		"Ursula", "Vint", "Whitfield", "Xiaoyun", "Yukihiro", "Zhores", "Annie", "Bjarne", "Carol", "Donald"}
	lastNames = []string{"Lovelace", "Turing", "Liskov", "Shannon", "Ritchie", "Dijkstra", "Allen", "Hopper", "Lamarr", "Sutherland",
		"Sammet", "Thompson", "Johnson", "Torvalds", "Hamilton", "Wirth", "Taussky", "Perlman", "Goldwasser", "Berners-Lee",
		"Franklin", "Cerf", "Diffie", "Wang", "Matsumoto", "Alferov", "Easley", "Stroustrup", "Shaw", "Knuth"}
	domains    = []string{"example.com", "example.org", "example.net", "acme.example", "globex.example"}
	plans      = []string{"free", "starter", "pro", "enterprise"}
	countries  = []string{"US", "CA", "GB", "DE", "FR", "JP", "BR", "IN", "AU", "NL"}
	roles      = []string{"admin", "editor", "viewer", "billing", "analyst"}
	industries = []string{"retail", "finance", "healthcare", "media", "software", "travel"}
	companies  = []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne"}
	browsers   = []string{"Chrome", "Firefox", "Safari", "Edge"}
	pages      = []string{"/", "/pricing", "/blog", "/docs", "/signup", "/features"}
	epoch      = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Property layouts of generated users; fields are in name order so the
// encoding matches the sorted form the store keeps.
type genCompany struct {
	Industry string `json:"industry"`
	Name     string `json:"name"`
	Size     int    `json:"size"`
}

type genIdentifiedProps struct {
	BetaTester    bool       `json:"beta_tester"`
	Company       genCompany `json:"company"`
	Country       string     `json:"country"`
	LifetimeValue float64    `json:"lifetime_value"`
	Plan          string     `json:"plan"`
	Roles         []string   `json:"roles"`
	Seats         int        `json:"seats"`
	SignupDate    string     `json:"signup_date"`
}

type genAnonymousProps struct {
	Browser     string `json:"browser"`
	LandingPage string `json:"landing_page"`
	Visits      int    `json:"visits"`
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// generateRecs returns users identified users and anonymous anonymous
// users, interleaved evenly, all derived from seed alone. Ids are left
// empty for the store to assign. Identified user i always gets the same
// uid for a seed, so seeding twice updates instead of duplicating.
func generateRecs(seed int64, users, anonymous int) []*rec {
	out := make([]*rec, 0, users+anonymous)
	total := users + anonymous
	nIdent, nAnon := 0, 0
	for k := 0; k < total; k++ {
		// Bresenham: identified users spread evenly among anonymous ones.
		if nIdent < users && (nAnon >= anonymous || (nIdent+1)*total <= (k+1)*users) {
			out = append(out, generateIdentified(seed, nIdent))
			nIdent++
		} else {
			out = append(out, generateAnonymous(seed, nAnon))
			nAnon++
		}
	}
	return out
}

func generateIdentified(seed int64, i int) *rec {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(i)<<1))
	first, last := pick(r, firstNames), pick(r, lastNames)
	p := genIdentifiedProps{
		BetaTester: r.IntN(5) == 0,
		Company: genCompany{
			Industry: pick(r, industries),
			Name:     pick(r, companies) + " " + pick(r, []string{"Inc", "LLC", "GmbH", "Ltd"}),
			Size:     10 * (1 + r.IntN(500)),
		},
		Country:       pick(r, countries),
		LifetimeValue: float64(r.IntN(10_000_00)) / 100,
		Plan:          pick(r, plans),
		Seats:         1 + r.IntN(250),
		SignupDate:    epoch.Add(time.Duration(r.IntN(3*365*24)) * time.Hour).Format(time.RFC3339),
	}
	for _, role := range roles {
		if r.IntN(3) == 0 {
			p.Roles = append(p.Roles, role)
		}
	}
	if len(p.Roles) == 0 {
		p.Roles = []string{"viewer"}
	}
	props, _ := json.Marshal(p)
	uid := fmt.Sprintf("usr_%016x", splitmix64(uint64(seed)*0x9e3779b97f4a7c15^uint64(i)))
	return &rec{
		uid:         uid,
		displayName: first + " " + last,
		email:       fmt.Sprintf("%s.%s.%d@%s", strings.ToLower(first), strings.ToLower(last), i, pick(r, domains)),
		props:       props,
	}
}

func generateAnonymous(seed int64, i int) *rec {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(i)<<1|1))
	props, _ := json.Marshal(genAnonymousProps{
		Browser:     pick(r, browsers),
		LandingPage: pick(r, pages),
		Visits:      1 + r.IntN(40),
	})
	return &rec{props: props}
}
