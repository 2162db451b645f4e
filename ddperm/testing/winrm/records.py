"""PowerShell error records as Windows PowerShell 5.1 serializes them over PSRP.

The twin's ``ErrorRecord`` (message, id, category, target, exception type) becomes a
psrpcore ``ErrorRecord`` with the exception's whole .NET type chain, an InvocationInfo
naming the script, and the category line PowerShell renders
("ObjectNotFound: (DockerDesktopVM:String) [], VirtualizationException").
"""

from __future__ import annotations

from psrpcore.types import (
    CommandOrigin,
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    InvocationInfo,
    NETException,
)

from ddperm.testing.errors import ErrorRecord as TwinErrorRecord

_SYSTEM = ("System.SystemException", "System.Exception", "System.Object")
_RUNTIME = ("System.Management.Automation.RuntimeException", *_SYSTEM)
_BINDING = ("System.Management.Automation.ParameterBindingException", *_RUNTIME)
_IO = ("System.IO.IOException", *_SYSTEM)
_EXTERNAL = ("System.Runtime.InteropServices.ExternalException", *_SYSTEM)
BASE_TYPES: dict[str, tuple[str, ...]] = {
    "System.Management.Automation.RuntimeException": _SYSTEM,
    "System.Management.Automation.ParameterBindingException": _RUNTIME,
    "System.Management.Automation.ParameterBindingValidationException": _BINDING,
    "System.Management.Automation.ParameterBindingArgumentTransformationException": _BINDING,
    "System.Management.Automation.MethodInvocationException": (
        "System.Management.Automation.MethodException",
        *_RUNTIME,
    ),
    "System.Management.Automation.CommandNotFoundException": _RUNTIME,
    "System.Management.Automation.ActionPreferenceStopException": _RUNTIME,
    "System.Management.Automation.PipelineStoppedException": _RUNTIME,
    "System.Management.Automation.PropertyNotFoundException": (
        "System.Management.Automation.ExtendedTypeSystemException",
        *_RUNTIME,
    ),
    "System.Management.Automation.ItemNotFoundException": (
        "System.Management.Automation.SessionStateException",
        *_RUNTIME,
    ),
    "System.Management.Automation.PSInvalidOperationException": (
        "System.InvalidOperationException",
        *_SYSTEM,
    ),
    "System.InvalidOperationException": _SYSTEM,
    "System.ArgumentException": _SYSTEM,
    "System.UnauthorizedAccessException": _SYSTEM,
    "System.TimeoutException": _SYSTEM,
    "System.IO.IOException": _SYSTEM,
    "System.IO.FileNotFoundException": _IO,
    "System.IO.DirectoryNotFoundException": _IO,
    "System.Runtime.InteropServices.COMException": _EXTERNAL,
    "System.ComponentModel.Win32Exception": _EXTERNAL,
    "Microsoft.PowerShell.Commands.ServiceCommandException": _SYSTEM,
    "Microsoft.PowerShell.Commands.WriteErrorException": _SYSTEM,
    "Microsoft.Management.Infrastructure.CimException": ("System.Exception", "System.Object"),
}
"""Base classes of the exception types the twin raises (.NET Framework 4.8)."""


class _CategoryInfo(ErrorCategoryInfo):
    """psrpcore's category info with PowerShell's rendering (a colon after the category)."""

    def __str__(self) -> str:
        target = f"{self.TargetName or ''}:{self.TargetType or ''}"
        return f"{self.Category.name}: ({target}) [{self.Activity or ''}], {self.Reason or ''}"


def type_chain(exception_type: str) -> list[str]:
    """The exception type and its base classes, most derived first."""
    return [exception_type, *BASE_TYPES.get(exception_type, ("System.Exception", "System.Object"))]


def error_record(record: TwinErrorRecord, script: str) -> ErrorRecord:
    """The serializable error record of a terminating error thrown by ``script``."""
    exception = NETException(Message=record.message, HResult=-2146233087)
    exception.PSObject.type_names = type_chain(record.exception_type)
    exception.PSObject.to_string = f"{record.exception_type}: {record.message}"
    category = _CategoryInfo(
        Category=ErrorCategory[record.category],
        Reason=record.exception_type.rsplit(".", 1)[-1],
        TargetName=record.target,
        TargetType="String" if record.target else "",
    )
    invocation = InvocationInfo(
        MyCommand=script,
        BoundParameters={},
        UnboundArguments=[],
        ScriptLineNumber=0,
        OffsetInLine=0,
        HistoryId=1,
        ScriptName="",
        Line="",
        PositionMessage="",
        PSScriptRoot="",
        PSCommandPath=None,
        InvocationName="",
        PipelineLength=0,
        PipelinePosition=0,
        ExpectingInput=False,
        CommandOrigin=CommandOrigin.Internal,
    )
    error = ErrorRecord(
        Exception=exception,
        CategoryInfo=category,
        TargetObject=record.target or None,
        FullyQualifiedErrorId=record.fqid,
        InvocationInfo=invocation,
    )
    error.PSObject.to_string = record.message
    return error
