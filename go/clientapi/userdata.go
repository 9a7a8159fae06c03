package clientapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"hearth/go/accountdata"
	"hearth/go/errcode"
	"hearth/go/pushrules"
)

func (a *API) getAccountData(req *request) (any, error) {
	u, err := ownUser(req)
	if err != nil {
		return nil, err
	}
	content, err := a.accountData.Get(req.ctx(), u, req.PathValue("roomId"), req.PathValue("type"))
	if err != nil {
		return nil, err
	}
	return content, nil
}

func (a *API) putAccountData(req *request) (any, error) {
	u, err := ownUser(req)
	if err != nil {
		return nil, err
	}
	content, err := readJSONObject(req.Request)
	if err != nil {
		return nil, err
	}
	evType := req.PathValue("type")
	if evType == pushrules.AccountDataType {
		// The push rules endpoints keep the ruleset well-formed.
		return nil, errcode.New(http.StatusMethodNotAllowed, "M_BAD_JSON", "use the dedicated endpoint for "+evType)
	}
	return struct{}{}, a.accountData.Put(req.ctx(), u, req.PathValue("roomId"), evType, content)
}

func (a *API) createFilter(req *request) (any, error) {
	u, err := ownUser(req)
	if err != nil {
		return nil, err
	}
	raw, err := readJSONObject(req.Request)
	if err != nil {
		return nil, err
	}
	id, err := a.filters.Create(req.ctx(), u, raw)
	if err != nil {
		return nil, err
	}
	return map[string]string{"filter_id": id}, nil
}

func (a *API) getFilter(req *request) (any, error) {
	u, err := ownUser(req)
	if err != nil {
		return nil, err
	}
	return a.filters.Get(req.ctx(), u, req.PathValue("filterId"))
}

// ruleset returns the caller's push rules: as stored, else the defaults.
func (a *API) ruleset(req *request) (pushrules.Ruleset, error) {
	raw, err := a.accountData.Get(req.ctx(), req.device.UserID, "", pushrules.AccountDataType)
	if err != nil && !errors.Is(err, accountdata.ErrNotFound) {
		return pushrules.Ruleset{}, err
	}
	return pushrules.Decode(raw, req.device.UserID), nil
}

// editRuleset applies edit to the caller's push rules and stores the result,
// reading and writing in one transaction so concurrent edits are not lost.
func (a *API) editRuleset(req *request, edit func(rs pushrules.Ruleset) error) error {
	return a.accountData.Update(req.ctx(), req.device.UserID, "", pushrules.AccountDataType, func(raw json.RawMessage) (json.RawMessage, error) {
		rs := pushrules.Decode(raw, req.device.UserID)
		if err := edit(rs); err != nil {
			return nil, err
		}
		return json.Marshal(rs)
	})
}

func (a *API) pushRules(req *request) (any, error) {
	rs, err := a.ruleset(req)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(req.URL.Path, "/global/") {
		return rs.Global, nil
	}
	return rs, nil
}

func (a *API) pushRule(req *request) (any, error) {
	rs, err := a.ruleset(req)
	if err != nil {
		return nil, err
	}
	return rs.Find(req.PathValue("kind"), req.PathValue("ruleId"))
}

func (a *API) putPushRule(req *request) (any, error) {
	var rule pushrules.Rule
	if err := readJSON(req.Request, &rule); err != nil {
		return nil, err
	}
	rule.RuleID = req.PathValue("ruleId")
	return struct{}{}, a.editRuleset(req, func(rs pushrules.Ruleset) error {
		return rs.Put(req.PathValue("kind"), rule)
	})
}

func (a *API) deletePushRule(req *request) (any, error) {
	return struct{}{}, a.editRuleset(req, func(rs pushrules.Ruleset) error {
		return rs.Delete(req.PathValue("kind"), req.PathValue("ruleId"))
	})
}

func (a *API) pushRuleAttr(req *request) (any, error) {
	rs, err := a.ruleset(req)
	if err != nil {
		return nil, err
	}
	r, err := rs.Find(req.PathValue("kind"), req.PathValue("ruleId"))
	if err != nil {
		return nil, err
	}
	switch req.PathValue("attr") {
	case "enabled":
		return map[string]bool{"enabled": r.Enabled}, nil
	case "actions":
		return map[string]any{"actions": r.Actions}, nil
	}
	return unrecognized(req)
}

func (a *API) putPushRuleAttr(req *request) (any, error) {
	var body struct {
		Enabled *bool `json:"enabled"`
		Actions []any `json:"actions"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	attr := req.PathValue("attr")
	switch {
	case attr == "enabled" && body.Enabled == nil:
		return nil, badJSON("enabled is required")
	case attr == "actions" && body.Actions == nil:
		return nil, badJSON("actions is required")
	case attr != "enabled" && attr != "actions":
		return unrecognized(req)
	}
	return struct{}{}, a.editRuleset(req, func(rs pushrules.Ruleset) error {
		r, err := rs.Find(req.PathValue("kind"), req.PathValue("ruleId"))
		if err != nil {
			return err
		}
		if attr == "enabled" {
			r.Enabled = *body.Enabled
		} else {
			r.Actions = body.Actions
		}
		return nil
	})
}
