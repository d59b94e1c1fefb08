from desk import views
from django.urls import path

urlpatterns = [
    path("cases", views.open_case),
    path("cases/<str:case_id>/<str:trigger>", views.fire),
]
