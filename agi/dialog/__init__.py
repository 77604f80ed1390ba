"""The voice menu: the flow language, its checks, and the engine that walks it over a
`Channel`, handing the company's work to `Actions` and answers by voice to a `Recogniser`."""
