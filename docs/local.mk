# docs/: manual pages, and the service files installed with them (systemd unit, SysV init
# script, example configuration). kls.conf.5 and kls-handler.3 are generated from
# docs/kls.conf.md and include/kls/handler.h by docs/mkman.py (run by hand, output kept,
# so building needs no Python); tests/install_test.sh notices a forgotten run.
dist_man_MANS = docs/klsd.8 docs/kls-ctl.8 docs/kls.conf.5 docs/kls-handler.3
EXTRA_DIST += docs/mkman.py scripts/kls@.service.in scripts/kls.init

# Packagers may override these on the make command line (systemd's own unit directory is
# $(prefix)/lib/systemd/system for prefix /usr).
systemdsystemunitdir = $(prefix)/lib/systemd/system
systemdsystemunit_DATA = scripts/kls@.service
initddir = $(sysconfdir)/init.d
initd_SCRIPTS = scripts/init.d/kls
klsconfdir = $(sysconfdir)/kls
klsconf_DATA = scripts/kls.conf.example
CLEANFILES += scripts/kls@.service scripts/init.d/kls

# The unit and the init script name installed paths, filled in here rather than by
# configure so that `make prefix=...` and DESTDIR installs stay right.
kls_edit = $(SED) -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g'
scripts/kls@.service: $(srcdir)/scripts/kls@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) scripts && \
	$(kls_edit) $(srcdir)/scripts/kls@.service.in > $@.tmp && mv $@.tmp $@
scripts/init.d/kls: $(srcdir)/scripts/kls.init Makefile
	$(AM_V_GEN)$(MKDIR_P) scripts/init.d && \
	$(kls_edit) $(srcdir)/scripts/kls.init > $@.tmp && chmod +x $@.tmp && mv $@.tmp $@

# For tests/install_test.sh: where things go, and which programs this tree installs.
kls-install-vars:
	@echo "prefix='$(prefix)' bindir='$(bindir)' sbindir='$(sbindir)'"
	@echo "pkglibexecdir='$(pkglibexecdir)' includedir='$(includedir)' libdir='$(libdir)'"
	@echo "mandir='$(mandir)' sysconfdir='$(sysconfdir)' initddir='$(initddir)'"
	@echo "systemdsystemunitdir='$(systemdsystemunitdir)'"
	@echo "bin_programs='$(bin_PROGRAMS)' sbin_programs='$(sbin_PROGRAMS)'"
	@echo "pkglibexec_programs='$(pkglibexec_PROGRAMS)'"
.PHONY: kls-install-vars
