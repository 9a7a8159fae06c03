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
	if evType == pushRulesType {
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

// pushRulesType is the account data type the push ruleset is stored as.
const pushRulesType = "m.push_rules"

// ruleset returns the caller's push rules: as stored, else the defaults.
func (a *API) ruleset(req *request) (pushrules.Ruleset, error) {
	raw, err := a.accountData.Get(req.ctx(), req.device.UserID, "", pushRulesType)
	if errors.Is(err, accountdata.ErrNotFound) {
		return pushrules.Defaults(req.device.UserID), nil
	}
	if err != nil {
		return pushrules.Ruleset{}, err
	}
	var rs pushrules.Ruleset
	if err := json.Unmarshal(raw, &rs); err != nil || rs.Global == nil {
		return pushrules.Defaults(req.device.UserID), nil
	}
	return rs, nil
}

func (a *API) saveRuleset(req *request, rs pushrules.Ruleset) error {
	raw, err := json.Marshal(rs)
	if err != nil {
		return err
	}
	return a.accountData.Put(req.ctx(), req.device.UserID, "", pushRulesType, raw)
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
	rs, err := a.ruleset(req)
	if err != nil {
		return nil, err
	}
	if err := rs.Put(req.PathValue("kind"), rule); err != nil {
		return nil, err
	}
	return struct{}{}, a.saveRuleset(req, rs)
}

func (a *API) deletePushRule(req *request) (any, error) {
	rs, err := a.ruleset(req)
	if err != nil {
		return nil, err
	}
	if err := rs.Delete(req.PathValue("kind"), req.PathValue("ruleId")); err != nil {
		return nil, err
	}
	return struct{}{}, a.saveRuleset(req, rs)
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
	rs, err := a.ruleset(req)
	if err != nil {
		return nil, err
	}
	r, err := rs.Find(req.PathValue("kind"), req.PathValue("ruleId"))
	if err != nil {
		return nil, err
	}
	var body struct {
		Enabled *bool `json:"enabled"`
		Actions []any `json:"actions"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	switch req.PathValue("attr") {
	case "enabled":
		if body.Enabled == nil {
			return nil, badJSON("enabled is required")
		}
		r.Enabled = *body.Enabled
	case "actions":
		if body.Actions == nil {
			return nil, badJSON("actions is required")
		}
		r.Actions = body.Actions
	default:
		return unrecognized(req)
	}
	return struct{}{}, a.saveRuleset(req, rs)
}
