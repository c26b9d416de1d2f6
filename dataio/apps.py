from django.apps import AppConfig


class DataIoConfig(AppConfig):
    name = "dataio"
    verbose_name = "Data in and out"
