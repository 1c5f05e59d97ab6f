// Command clashes shows a merge that needs a person. Alice and Bob edit
// one plan from the same version: Bob changes the owner and the budget,
// Alice the budget and the notes. Alice's Replace, with the JSON
// three-way merge, keeps Bob's owner and her notes, but both changed the
// budget: the merge stops with a *MergeClashError naming /budget rather
// than pick a winner. A person chooses (here -choose mine or theirs), and
// the Replace runs again with that choice for the clash alone. It exits
// non-zero unless the plan ends with Bob's owner, Alice's notes and the
// chosen budget.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

// Plan is the document both edit.
type Plan struct {
	Title  string `json:"title"`
	Owner  string `json:"owner"`
	Budget int    `json:"budget"`
	Notes  string `json:"notes,omitempty"`
}

func main() {
	choose := flag.String("choose", "mine", "the person's choice for a clash: mine (Alice's) or theirs (Bob's)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, *choose); err != nil {
		fmt.Fprintln(os.Stderr, "clashes:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, choose string) error {
	choice, ok := map[string]concord.ClashPolicy{"mine": concord.ClashKeepMine, "theirs": concord.ClashKeepTheirs}[choose]
	if !ok {
		return fmt.Errorf("-choose %q: want mine or theirs", choose)
	}
	api := concordtest.NewAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	if _, err := api.Seed("plans", "q3", Plan{Title: "Q3 plan", Owner: "ann", Budget: 100}); err != nil {
		return err
	}
	alice, bob := client(srv.URL), client(srv.URL)
	plans := concord.NewResource[Plan](alice, "plans")
	seen, err := plans.Get(ctx, "q3")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Alice and Bob read %+v\n", seen.Value)

	if _, err := concord.NewResource[Plan](bob, "plans").Update(ctx, "q3", func(p *Plan) error {
		p.Owner, p.Budget = "bob", 120
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintln(w, "Bob writes: owner bob, budget 120")

	mine := seen.Value
	mine.Budget, mine.Notes = 150, "add travel"
	fmt.Fprintln(w, "Alice writes from what she read: budget 150, notes \"add travel\"")
	_, err = plans.WithMerge(concord.ThreeWay[Plan]()).Replace(ctx, "q3", mine, concord.WithBaseVersion(seen.Version))
	var clash *concord.MergeClashError
	if !errors.As(err, &clash) {
		return fmt.Errorf("the Replace of Alice = %v; want a clash on the budget", err)
	}
	fmt.Fprintf(w, "the merge stops: %v (the owner and the notes merged without asking)\n", clash)
	fmt.Fprintf(w, "a person chooses %s for %v\n", choose, clash.Paths)

	res, err := plans.WithMerge(concord.ThreeWay[Plan](concord.OnClash(choice))).Replace(ctx, "q3", mine, concord.WithBaseVersion(seen.Version))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "written: %+v\n", res.Value)
	want := Plan{Title: "Q3 plan", Owner: "bob", Budget: map[string]int{"mine": 150, "theirs": 120}[choose], Notes: "add travel"}
	if res.Value != want {
		return fmt.Errorf("the plan is %+v; want %+v", res.Value, want)
	}
	return nil
}

func client(url string) *concord.Client {
	c, err := concord.New(url)
	if err != nil {
		panic(err) // the embedded API's URL is valid
	}
	return c
}
