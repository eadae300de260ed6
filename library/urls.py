from django.urls import path

from library import public_views, views

# ImgBed's paths. The fixed ones before tags/<id>: a file id of "batch" is shadowed, as in ImgBed.
urlpatterns = [
    path("api/manage/list", views.list_files, name="manage_list"),
    path("api/manage/quota", views.quota, name="manage_quota"),
    path("api/manage/delete/<path:file_id>", views.delete, name="api_delete"),
    path("api/manage/move/<path:file_id>", views.move, name="manage_move"),
    path("api/manage/rename/<path:file_id>", views.rename, name="manage_rename"),
    path("api/manage/metadata/<path:file_id>", views.edit_metadata, name="manage_metadata"),
    path("api/manage/tags/batch", views.tags_batch, name="manage_tags_batch"),
    path("api/manage/tags/autocomplete", views.tags_autocomplete, name="manage_tags_autocomplete"),
    path("api/manage/tags/<path:file_id>", views.file_tags, name="manage_tags"),
    path("api/manage/block/<path:file_id>", views.block, name="manage_block"),
    path("api/manage/white/<path:file_id>", views.white, name="manage_white"),
    path("api/manage/normal/<path:file_id>", views.normal, name="manage_normal"),
    # The public side (off until staff turn it on in the site settings).
    path("random", public_views.random_file, name="random"),
    path("api/public/list", public_views.public_list, name="public_list"),
    path("browse/", public_views.browse, name="browse"),
    path("browse/<path:folder>", public_views.browse, name="browse_folder"),
]
