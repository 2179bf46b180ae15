# METADATA
# title: "Example: writes only in business hours"
# description: |
#   Writes run only Monday to Friday, 09:00 to 17:00 in the team's time zone, when people are
#   at hand to watch them; reads run at any time. The clock is OPA's (time.now_ns), never the
#   request's time, which the caller's side could shape.
#   decision is the shipped data.mcp.authz.decision with this file's deny reasons added
#   (layer.rego): any reason here denies the call and withdraws an approval offer.
package mcp.examples.business_hours

import rego.v1

import data.mcp.authz
import data.mcp.examples.layer

# an IANA time zone name; OPA carries its own time zone database
_zone := "Europe/Berlin"

_opening_hour := 9

_closing_hour := 17

_working_days := {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}

# METADATA
# description: The decision document for one tool call, the shipped one with deny added.
# entrypoint: true
decision := layer.with_denials(authz.decision, deny)

# METADATA
# description: Why this example denies the call (empty when it does not).
deny contains sprintf("writes run only Monday to Friday, %02d:00 to %02d:00 %s; it is %s %02d:%02d there", [
	_opening_hour, _closing_hour, _zone,
	_weekday, _hour, _minute,
]) if {
	input.action.write == true
	not _business_hours
}

_now := [time.now_ns(), _zone]

_weekday := time.weekday(_now)

_hour := time.clock(_now)[0]

_minute := time.clock(_now)[1]

_business_hours if {
	_weekday in _working_days
	_hour >= _opening_hour
	_hour < _closing_hour
}
