from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

# The API first: its requests are the most frequent, and no page's path starts with api/.
urlpatterns = [
    path("api/", include("api.urls")),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("ledger.urls")),
    path("", include("markets.urls")),
    path("", include("api.page_urls")),
]
