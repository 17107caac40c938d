from django.urls import path

from ledger import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("currencies/", views.currency_list, name="currency_list"),
    path("currencies/new/", views.currency_create, name="currency_create"),
    path("currencies/<str:code>/", views.currency_detail, name="currency_detail"),
    path("currencies/<str:code>/mint/", views.currency_supply_change, {"action": "mint"}, name="currency_mint"),
    path("currencies/<str:code>/burn/", views.currency_supply_change, {"action": "burn"}, name="currency_burn"),
    path("currencies/<str:code>/renounce/", views.currency_renounce, name="currency_renounce"),
    path("send/", views.transfer_create, name="transfer_create"),
]
