package api

// Citizen is the person in the home.
type Citizen struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Address    string    `json:"address"`
	KeyBoxNote string    `json:"key_box_note"`
	Contacts   []Contact `json:"contacts"`
}

// Contact is a person to call (a relative, a neighbour).
type Contact struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Relation string `json:"relation"`
}

// System is the actor name of what the platform does by itself (escalation, offline
// detection, an offline alert resolving when its gateway is back).
const System = "system"
