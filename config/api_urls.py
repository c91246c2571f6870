from rest_framework.routers import DefaultRouter

from cases.api import CaseViewSet
from routing.api import OfferViewSet

router = DefaultRouter()
router.register("cases", CaseViewSet, basename="case")
router.register("offers", OfferViewSet, basename="offer")

urlpatterns = router.urls
