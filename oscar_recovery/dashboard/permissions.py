"""Who may open which dashboard view (the app config maps views to these; the views
check the action permission themselves)."""

#: Reading figures needs the view permission on campaigns; reading baskets (shoppers'
#: addresses) the view permission on journeys; acting on an enrolment its change
#: permission: the permissions the Django admin asks for the same data. Always with
#: ``is_staff``, as Oscar's dashboard does.
FIGURES = ["is_staff", "oscar_recovery.view_campaign"]
BASKETS = ["is_staff", "oscar_recovery.view_cartjourney"]
ACT_ON_ENROLMENTS = [
    "is_staff",
    "oscar_recovery.view_cartjourney",
    "oscar_recovery.change_campaignenrolment",
]
