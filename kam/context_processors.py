from django.conf import settings


def kam(request):
    return {"KAM_CURRENCY": settings.KAM_CURRENCY}
