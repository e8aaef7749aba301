"""Contains all the data models used in inputs/outputs"""

from .batch_create import BatchCreate
from .batch_create_vm import BatchCreateVm
from .batch_delete import BatchDelete
from .batch_item_result import BatchItemResult
from .batch_replace import BatchReplace
from .batch_replace_vm import BatchReplaceVm
from .batch_request import BatchRequest
from .batch_results import BatchResults
from .batch_update import BatchUpdate
from .batch_update_patch import BatchUpdatePatch
from .batch_upsert import BatchUpsert
from .batch_upsert_vm import BatchUpsertVm
from .delete_project_if_match_type_0 import DeleteProjectIfMatchType0
from .delete_vm_if_match_type_0 import DeleteVmIfMatchType0
from .event_action import EventAction
from .field_change import FieldChange
from .field_error import FieldError
from .get_project_if_none_match_type_0 import GetProjectIfNoneMatchType0
from .get_vm_if_none_match_type_0 import GetVmIfNoneMatchType0
from .health import Health
from .initial_status import InitialStatus
from .problem import Problem
from .project import Project
from .project_create import ProjectCreate
from .project_page import ProjectPage
from .project_update import ProjectUpdate
from .quota import Quota
from .quota_patch import QuotaPatch
from .replace_vm_if_match_type_0 import ReplaceVmIfMatchType0
from .restore_vm_if_match_type_0 import RestoreVmIfMatchType0
from .sort_order import SortOrder
from .update_project_if_match_type_0 import UpdateProjectIfMatchType0
from .update_vm_if_match_type_0 import UpdateVmIfMatchType0
from .upsert_vm_if_match_type_0 import UpsertVmIfMatchType0
from .upsert_vm_if_none_match_type_0 import UpsertVmIfNoneMatchType0
from .usage import Usage
from .vm import VM
from .vm_create import VMCreate
from .vm_create_labels import VMCreateLabels
from .vm_event import VMEvent
from .vm_event_changes import VMEventChanges
from .vm_event_page import VMEventPage
from .vm_labels import VMLabels
from .vm_page import VMPage
from .vm_patch import VMPatch
from .vm_patch_labels_type_0 import VMPatchLabelsType0
from .vm_replace import VMReplace
from .vm_replace_labels import VMReplaceLabels
from .vm_status import VMStatus

__all__ = (
    "BatchCreate",
    "BatchCreateVm",
    "BatchDelete",
    "BatchItemResult",
    "BatchReplace",
    "BatchReplaceVm",
    "BatchRequest",
    "BatchResults",
    "BatchUpdate",
    "BatchUpdatePatch",
    "BatchUpsert",
    "BatchUpsertVm",
    "DeleteProjectIfMatchType0",
    "DeleteVmIfMatchType0",
    "EventAction",
    "FieldChange",
    "FieldError",
    "GetProjectIfNoneMatchType0",
    "GetVmIfNoneMatchType0",
    "Health",
    "InitialStatus",
    "Problem",
    "Project",
    "ProjectCreate",
    "ProjectPage",
    "ProjectUpdate",
    "Quota",
    "QuotaPatch",
    "ReplaceVmIfMatchType0",
    "RestoreVmIfMatchType0",
    "SortOrder",
    "UpdateProjectIfMatchType0",
    "UpdateVmIfMatchType0",
    "UpsertVmIfMatchType0",
    "UpsertVmIfNoneMatchType0",
    "Usage",
    "VM",
    "VMCreate",
    "VMCreateLabels",
    "VMEvent",
    "VMEventChanges",
    "VMEventPage",
    "VMLabels",
    "VMPage",
    "VMPatch",
    "VMPatchLabelsType0",
    "VMReplace",
    "VMReplaceLabels",
    "VMStatus",
)
