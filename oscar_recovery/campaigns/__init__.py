"""3. Who gets what: the audience rules and enrolment of abandoned journeys, the dispatch of
due steps (and staff's send-now, pause and stop), A/B variants of steps, the owner's text per
language (:mod:`.translations`, shared with prompts), and the installers of the default
campaigns. Connects its receiver (enrol on ``journeys_abandoned``) in
:mod:`.receivers`."""
