"""The browser's pages for API keys."""

from django.urls import path

from api import views

urlpatterns = [
    path("account/api-keys/", views.key_list, name="api_keys"),
    path("account/api-keys/<str:key_id>/revoke/", views.key_revoke, name="api_key_revoke"),
]
