package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ganpin/ganpin/internal/config"
	"github.com/ganpin/ganpin/trace"
)

// admin creates the operator's party and first admin account on a new installation;
// every other account is then created through the API.
func admin(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var username, name, uscc, county, kind string
	cfg, _, err := config.Load("admin", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&username, "username", "admin", "the admin's username")
		fs.StringVar(&name, "party", "", "the operating party's name, e.g. 赣南优品电商平台有限公司")
		fs.StringVar(&uscc, "uscc", "", "the party's 统一社会信用代码")
		fs.StringVar(&county, "county", "360702", "the party's GB/T 2260 county code")
		fs.StringVar(&kind, "kind", string(trace.Platform), "the party's kind")
	})
	if err != nil {
		return err
	}
	password := getenv("GANPIN_ADMIN_PASSWORD")
	if password == "" {
		fmt.Fprint(stderr, "password for "+username+": ")
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		password = strings.TrimRight(line, "\r\n")
	}
	db, st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	defer st.Close()
	svc := trace.NewService(st, nil)
	root := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
	p := &trace.Party{Kind: trace.PartyKind(kind), Name: name, USCC: uscc, County: county}
	if err := svc.CreateParty(ctx, root, p); err != nil {
		return err
	}
	u := &trace.User{PartyID: p.ID, Username: username, Name: username, Roles: []trace.Role{trace.RoleAdmin}}
	if err := svc.CreateUser(ctx, root, u, password); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created party %d (%s) and admin %q; get a token with POST /api/v1/tokens\n", p.ID, p.Name, u.Username)
	return nil
}
