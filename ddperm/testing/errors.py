"""Error records the twin raises, shaped like the ones Windows PowerShell writes."""

from __future__ import annotations

from ddperm.errors import HostError


class ErrorRecord(Exception):
    """A PowerShell ErrorRecord: message, FullyQualifiedErrorId, category, target, type."""

    def __init__(
        self,
        message: str,
        fqid: str,
        category: str = "NotSpecified",
        target: str = "",
        exception_type: str = "System.Management.Automation.RuntimeException",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fqid = fqid
        self.category = category
        self.target = target
        self.exception_type = exception_type

    def to_host_error(self, script: str) -> HostError:
        return HostError(
            self.message,
            fully_qualified_error_id=self.fqid,
            category=self.category,
            target=self.target,
            exception_type=self.exception_type,
            script=script,
        )


def parameter_not_found(script: str, name: str) -> ErrorRecord:
    return ErrorRecord(
        f"A parameter cannot be found that matches parameter name '{name}'.",
        f"NamedParameterNotFound,{script}",
        "InvalidArgument",
        name,
        "System.Management.Automation.ParameterBindingException",
    )


def missing_mandatory(script: str, names: list[str]) -> ErrorRecord:
    joined = " ".join(names)
    return ErrorRecord(
        f"Cannot process command because of one or more missing mandatory parameters: {joined}.",
        f"MissingMandatoryParameter,{script}",
        "InvalidArgument",
        "",
        "System.Management.Automation.ParameterBindingException",
    )


def validate_set_failed(script: str, name: str, value: object, allowed: list[str]) -> ErrorRecord:
    return ErrorRecord(
        f"Cannot validate argument on parameter '{name}'. The argument \"{value}\" does not "
        f'belong to the set "{",".join(allowed)}" specified by the ValidateSet attribute. '
        "Supply an argument that is in the set and then try the command again.",
        f"ParameterArgumentValidationError,{script}",
        "InvalidData",
        name,
        "System.Management.Automation.ParameterBindingValidationException",
    )


def command_not_found(name: str) -> ErrorRecord:
    """What PowerShell says of a command it cannot see (or that does not exist)."""
    return ErrorRecord(
        f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, "
        "or operable program. Check the spelling of the name, or if a path was included, "
        "verify that the path is correct and try again.",
        "CommandNotFoundException",
        "ObjectNotFound",
        name,
        "System.Management.Automation.CommandNotFoundException",
    )


def scripts_not_allowed(text: str) -> ErrorRecord:
    """What a NoLanguage runspace says to script text (Command.CreateCommandProcessor)."""
    return ErrorRecord(
        "The syntax is not supported by this runspace. This might be because it is in "
        "no-language mode.",
        "ScriptsNotAllowed",
        "ParserError",
        text,
        "System.Management.Automation.ParseException",
    )
