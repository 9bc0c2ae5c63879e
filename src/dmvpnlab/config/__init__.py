"""IOS-style configuration: parser to a typed model, `configure terminal` sessions, renderer.

    parse_config(text, source) -> ParseResult(config, ignored, errors)
    load_config(text, source)  -> RouterConfig, or raises ConfigSyntaxError
    ConfigSession(config).apply(line) -> [ConfigError]; .prompt_suffix, .mode
    render_running_config(config) -> `show running-config` text
"""

from dmvpnlab.config.errors import ConfigError, ConfigSyntaxError, IgnoredLine
from dmvpnlab.config.model import RouterConfig
from dmvpnlab.config.parser import ConfigSession, Mode, ParseResult, load_config, parse_config
from dmvpnlab.config.render import render_running_config

__all__ = [
    "ConfigError", "ConfigSession", "ConfigSyntaxError", "IgnoredLine", "Mode", "ParseResult",
    "RouterConfig", "load_config", "parse_config", "render_running_config",
]
