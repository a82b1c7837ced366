package expr

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
)

func item(t testing.TB, js string) attr.Item {
	t.Helper()
	var it attr.Item
	if err := json.Unmarshal([]byte(js), &it); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return it
}

func dump(t testing.TB, it attr.Item) string {
	t.Helper()
	b, err := json.Marshal(it)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const doc = `{"id":{"S":"a1"},"n":{"N":"10"},"s":{"S":"hello"},"b":{"B":"AAEC"},"t":{"BOOL":true},"z":{"NULL":true},
 "ss":{"SS":["x","y"]},"ns":{"NS":["1","2.5"]},"l":{"L":[{"N":"1"},{"S":"two"},{"M":{"c":{"S":"deep"}}}]},
 "m":{"M":{"a":{"M":{"b":{"N":"7"}}},"name with space":{"S":"v"}}}}`

var vals = `{":ten":{"N":"10"},":nine":{"N":"9.999"},":s":{"S":"hello"},":he":{"S":"he"},":x":{"S":"x"},":N":{"S":"N"},
 ":SS":{"S":"SS"},":one":{"N":"1"},":two":{"N":"2"},":deep":{"S":"deep"},":seven":{"N":"7"},":b":{"B":"AA=="},":five":{"N":"5"},
 ":list":{"L":[{"N":"3"}]},":zset":{"SS":["z"]},":xset":{"SS":["x"]},":bigA":{"N":"99999999999999999999999999999999999999"},":n1":{"N":"1"}}`

func refs(t testing.TB) *Refs {
	var v map[string]attr.Value
	if err := json.Unmarshal([]byte(vals), &v); err != nil {
		t.Fatal(err)
	}
	return &Refs{Names: map[string]string{"#sp": "name with space", "#m": "m"}, Values: v}
}

func TestConditions(t *testing.T) {
	it := item(t, doc)
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{"n = :ten", true},
		{"n = :nine", false},
		{"n > :nine AND n >= :ten AND n <= :ten AND n < :bigA", true},
		{"n <> :ten", false},
		{"s = :s", true},
		{"attribute_exists(s) AND attribute_not_exists(nope)", true},
		{"attribute_exists(m.a.b) AND attribute_exists(l[2].c)", true},
		{"attribute_exists(l[3])", false},
		{"attribute_type(n, :N) AND attribute_type(ss, :SS)", true},
		{"attribute_type(s, :N)", false},
		{"begins_with(s, :he)", true},
		{"begins_with(b, :b)", true},
		{"begins_with(n, :he)", false},
		{"contains(s, :he) AND contains(ss, :x) AND contains(ns, :one)", true},
		{"contains(l, :one)", true},
		{"size(s) = :five AND size(l) > :two AND size(ss) = :two", true},
		{"size(m) = :two", true},
		{"n BETWEEN :nine AND :ten", true},
		{"n BETWEEN :one AND :nine", false},
		{"n IN (:one, :two, :ten)", true},
		{"n IN (:one, :two)", false},
		{"NOT n = :one", true},
		{"n = :one OR s = :s AND n = :one", false},
		{"(n = :one OR s = :s) AND n = :ten", true},
		{"#m.#sp = :x OR #m.a.b = :seven", true},
		{"l[2].c = :deep", true},
		{"nope = :one", false},
		{"nope <> :one", false},
		{"s > :one", false},
		{"NOT (attribute_exists(nope))", true},
	} {
		c, err := ParseCond("ConditionExpression", tc.src, refs(t))
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if got := c.Eval(it); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.src, got, tc.want)
		}
	}
}

func TestConditionErrors(t *testing.T) {
	for _, tc := range []struct{ src, msg string }{
		{"", "Invalid ConditionExpression: The expression can not be empty;"},
		{"n = :undefined", "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :undefined"},
		{"#undefined = :one", "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #undefined"},
		{"n = ", `Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "= "`},
		{"n == :one", `Invalid ConditionExpression: Syntax error; token: "=", near: "=="`},
		{"frob(n)", "Invalid ConditionExpression: Invalid function name; function: frob"},
		{"attribute_exists(n, s)", "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2"},
		{"attribute_type(n, :one)", "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"},
		{"n BETWEEN :ten AND :one", "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N,10}, upper bound operand: AttributeValue: {N,1}"},
		{"n = :one AND", `Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "AND"`},
		{"(n = :one", `Invalid ConditionExpression: Syntax error; token: "<EOF>", near: ":one"`},
		{"n = :one $", `Invalid ConditionExpression: Syntax error; token: "$", near: ":one $"`},
		{"status = :one", "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"},
		{"attribute_exists(m.Name)", "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Name"},
	} {
		_, err := ParseCond("ConditionExpression", tc.src, refs(t))
		if err == nil || err.Error() != tc.msg {
			t.Errorf("%q: %v, want %s", tc.src, err, tc.msg)
		}
	}
}

func TestUpdates(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"SET n = n + :one", `"n":{"N":"11"}`},
		{"SET n = n - :bigA", `"n":{"N":"-99999999999999999999999999999999999989"}`},
		{"SET fresh = if_not_exists(fresh, :five), n = if_not_exists(n, :five)", `"n":{"N":"10"}`},
		{"SET fresh = if_not_exists(fresh, :five)", `"fresh":{"N":"5"}`},
		{"SET l = list_append(l, :list)", `{"N":"3"}]}`},
		{"SET l = list_append(:list, l)", `"l":{"L":[{"N":"3"},{"N":"1"}`},
		{"SET m.a.b = :one", `"m":{"M":{"a":{"M":{"b":{"N":"1"}}}`},
		{"SET l[1] = :one", `"l":{"L":[{"N":"1"},{"N":"1"}`},
		{"SET l[9] = :one", `{"M":{"c":{"S":"deep"}}},{"N":"1"}]}`},
		{"REMOVE l[0], l[1]", `"l":{"L":[{"M":{"c":{"S":"deep"}}}]}`},
		{"REMOVE s, m.a", `"m":{"M":{"name with space":{"S":"v"}}}`},
		{"ADD n :five", `"n":{"N":"15"}`},
		{"ADD ss :zset", `"ss":{"SS":["x","y","z"]}`},
		{"ADD fresh :zset", `"fresh":{"SS":["z"]}`},
		{"DELETE ss :xset", `"ss":{"SS":["y"]}`},
		{"SET a = :one REMOVE s ADD n :one DELETE ss :xset", `"n":{"N":"11"}`},
	} {
		u, err := ParseUpdate(tc.src, refs(t))
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		old := item(t, doc)
		before := dump(t, old)
		got, err := u.Apply(old, []string{"id"})
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if s := dump(t, got); !strings.Contains(s, tc.want) {
			t.Errorf("%s: %s lacks %s", tc.src, s, tc.want)
		}
		if dump(t, old) != before {
			t.Errorf("%s changed the old item", tc.src)
		}
	}
	// DELETE of a set's last element removes the attribute; REMOVE of s is gone.
	u, _ := ParseUpdate("DELETE ss :xset REMOVE s", refs(t))
	got, _ := u.Apply(item(t, `{"id":{"S":"a"},"ss":{"SS":["x"]},"s":{"S":"q"}}`), []string{"id"})
	if len(got) != 1 {
		t.Errorf("after emptying a set: %s", dump(t, got))
	}
}

func TestUpdateErrors(t *testing.T) {
	for _, tc := range []struct{ src, msg string }{
		{"SET s = s + :one", "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: STRING"},
		{"SET x = nope + :one", "The provided expression refers to an attribute that does not exist in the item"},
		{"SET nope.a = :one", "The document path provided in the update expression is invalid for update"},
		{"ADD s :one", "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND"},
		{"SET l = list_append(l, :one)", "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: NUMBER"},
		{"SET id = :one", "One or more parameter values were invalid: Cannot update attribute id. This attribute is part of the key"},
		{"SET n = :one, n = :two", "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [n], path two: [n]"},
		{"SET a = :one SET b = :one", `Invalid UpdateExpression: The "SET" section can only be used once in an update expression;`},
		{"ADD n :s", "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"},
		{"SET a = size(s)", "Invalid UpdateExpression: The function is not allowed in an update expression; function: size"},
		{"SET a = :one REMOVE Timestamp", "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: Timestamp"},
		{"SET m.data = :one", "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: data"},
	} {
		u, err := ParseUpdate(tc.src, refs(t))
		if err == nil {
			_, err = u.Apply(item(t, doc), []string{"id"})
		}
		if err == nil || err.Error() != tc.msg {
			t.Errorf("%q: %v, want %s", tc.src, err, tc.msg)
		}
	}
}

func TestProjection(t *testing.T) {
	ps, err := ParsePaths("id, m.a.b, l[2].c, #m.#sp", refs(t))
	if err != nil {
		t.Fatal(err)
	}
	got := dump(t, Project(item(t, doc), ps))
	want := `{"id":{"S":"a1"},"l":{"L":[{"M":{"c":{"S":"deep"}}}]},"m":{"M":{"a":{"M":{"b":{"N":"7"}}},"name with space":{"S":"v"}}}}`
	if got != want {
		t.Errorf("projection %s, want %s", got, want)
	}
	if _, err := ParsePaths("id, COUNT", refs(t)); err == nil || err.Error() != "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: COUNT" {
		t.Errorf("a reserved word: %v", err)
	}
	// every word of DynamoDB's list, in any case; names that only
	// contain one are not reserved
	if len(reserved()) != 573 || !Reserved("zone") || !Reserved("Abort") || Reserved("statuses") || Reserved("my_name") {
		t.Errorf("%d reserved words", len(reserved()))
	}
	if _, err := ParsePaths("m, m.a", refs(t)); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("overlapping paths: %v", err)
	}
}

func TestUnused(t *testing.T) {
	r := refs(t)
	if _, err := ParseCond("ConditionExpression", "n = :one", r); err != nil {
		t.Fatal(err)
	}
	if err := r.Unused(); err == nil || !strings.HasPrefix(err.Error(), "Value provided in ExpressionAttributeNames unused in expressions: keys: {#m, #sp}") {
		t.Errorf("unused: %v", err)
	}
}

// FuzzParse: no input makes a parser panic, and an accepted condition
// evaluates without one.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a = :one", "attribute_exists(a.b[1]) AND NOT (x IN (:one, :two))", "size(#m) > :one OR begins_with(s, :he)",
		"SET a = a + :one, b = list_append(if_not_exists(b, :list), :list) REMOVE c[0] ADD n :one DELETE ss :xset", "a, b.c[3], #m"} {
		f.Add(s)
	}
	it := item(f, doc)
	f.Fuzz(func(t *testing.T, src string) {
		if c, err := ParseCond("ConditionExpression", src, refs(t)); err == nil {
			c.Eval(it)
			c.Eval(nil)
		}
		if u, err := ParseUpdate(src, refs(t)); err == nil {
			_, _ = u.Apply(it, []string{"id"})
			_, _ = u.Apply(nil, nil)
		}
		if ps, err := ParsePaths(src, refs(t)); err == nil {
			Project(it, ps)
		}
	})
}
