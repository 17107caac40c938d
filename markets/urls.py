from django.urls import path

from markets import views

urlpatterns = [
    path("markets/", views.market_list, name="market_list"),
    path("markets/<str:symbol>/", views.market_detail, name="market_detail"),
]
