from .app import SERVICE

SERVICE.main()
