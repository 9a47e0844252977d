package planner

import "encoding/json"

// remoteIDField holds, among the removal fields a snapshot keeps for a key
// (its fields column), the destination's own id for the record: the
// snapshot already travels from an accepted write to the later removals
// of its key, which is where a destination needs the id. It is kept under
// the empty name, which no destination field can have (config refuses
// empty field names).
const remoteIDField = ""

// KeepRemoteID adds a destination's id for a record to kept, the JSON of
// its removal fields ("" for none), for the snapshot.
func KeepRemoteID(kept, id string) string {
	if id == "" {
		return kept
	}
	fields := map[string]any{}
	if kept != "" {
		if err := json.Unmarshal([]byte(kept), &fields); err != nil {
			fields = map[string]any{}
		}
	}
	fields[remoteIDField] = id
	b, err := json.Marshal(fields)
	if err != nil {
		return kept
	}
	return string(b)
}

// takeRemoteID removes the destination's id from kept removal fields and
// returns it ("" when none was kept).
func takeRemoteID(kept map[string]any) string {
	v, ok := kept[remoteIDField]
	if !ok {
		return ""
	}
	delete(kept, remoteIDField)
	id, _ := v.(string)
	return id
}

// RemoteIDOf reads the destination's id kept in a snapshot's or change
// log's fields ("" when none).
func RemoteIDOf(fields string) string {
	if fields == "" {
		return ""
	}
	var kept map[string]any
	if err := json.Unmarshal([]byte(fields), &kept); err != nil {
		return ""
	}
	return takeRemoteID(kept)
}
