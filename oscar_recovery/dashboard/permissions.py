"""Who may open which dashboard view (the app config maps views to these; the views
check the action permission themselves)."""

#: Reading figures needs the view permission on campaigns; reading baskets (shoppers'
#: addresses) the view permission on journeys; acting on an enrolment its change
#: permission: the permissions the Django admin asks for the same data. Always with
#: ``is_staff``, as Oscar's dashboard does.
FIGURES = ["is_staff", "oscar_recovery.view_campaign"]
BASKETS = ["is_staff", "oscar_recovery.view_cartjourney"]
#: Customers (contacts) gather every journey, message, consent and order of a person: the
#: journeys' permission and the contacts' own, so no one sees more than the baskets show
#: them without being given it.
CONTACTS = ["is_staff", "oscar_recovery.view_cartjourney", "oscar_recovery.view_contact"]
ACT_ON_ENROLMENTS = [
    "is_staff",
    "oscar_recovery.view_cartjourney",
    "oscar_recovery.change_campaignenrolment",
]
#: Retargeting audiences: their sizes and sync state need the audiences' view permission;
#: downloading the hashed member lists also the members' own (a list of hashed addresses is
#: still personal data).
AUDIENCES = ["is_staff", "oscar_recovery.view_audience"]
AUDIENCE_CSV = ["is_staff", "oscar_recovery.view_audience", "oscar_recovery.view_audiencemember"]
